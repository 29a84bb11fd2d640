"""Every derived number (rates, means, spreads, percentiles, intervals) is computed here."""
