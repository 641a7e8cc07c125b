price_class = "PriceClass_100"
