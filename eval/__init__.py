"""VideoSSR eval stage."""
