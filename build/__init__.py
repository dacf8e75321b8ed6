"""VideoSSR build stage."""
