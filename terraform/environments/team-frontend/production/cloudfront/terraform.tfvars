price_class = "PriceClass_All"
