"""Build the missing review files from their public sources (needs internet).

    python data/fetch.py [--data-dir FOLDER]
"""

import argparse

from helpers.data import missing_reviews
from helpers.fetch import fetch_missing

if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--data-dir", default=None)
    a = p.parse_args()
    built = fetch_missing(a.data_dir)
    print(f"built: {', '.join(built) or 'nothing'}; still missing: {', '.join(missing_reviews(a.data_dir)) or 'none'}")
