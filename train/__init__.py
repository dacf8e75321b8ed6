"""VideoSSR train stage."""
