"""Build VideoSSR datasets: ``python build/run.py --help``."""

from videossr.build.cli import script

if __name__ == "__main__":
    script()
