"""AI spend: the live meter (prices, usage capture, readings) and the fence that acts on its readings."""
