print("pksplay")
