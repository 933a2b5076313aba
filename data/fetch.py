"""Build the missing review files from their public sources (needs internet).

    python data/fetch.py --data-dir FOLDER

Only FOLDER is written to; reviews already present in any data folder are not fetched again.
"""

import argparse

from helpers.data import missing_reviews
from helpers.fetch import fetch_missing

if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", required=True, help="folder to write the built <slug>.csv.gz files into")
    a = p.parse_args()
    built = fetch_missing(a.data_dir)
    print(f"built: {', '.join(built) or 'nothing'}; still missing: {', '.join(missing_reviews(a.data_dir)) or 'none'}")
