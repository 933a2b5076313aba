"""The methods a reader would use instead of the study's, as variants of the same sweep: each
gets exactly the 16 training records and the evaluation set that Base and LoRA get for that
review and seed, and returns the same record shape.

- ``tfidf+lr``: scikit-learn TF-IDF (word 1–2-grams, sublinear tf, fitted on the screened
  texts without labels) + the same logistic regression as phase 2.
- ``setfit``: the `setfit` library's own training of the same encoder, with its defaults
  (full fine-tuning, its own pair sampling and loss, logistic-regression head).
- ``asreview-oneshot``: ASReview's default model (ELAS u4: TF-IDF 1–2-grams + linear SVM with
  balanced sample weights), built through ASReview's own API, fitted once on the 16.
- ``asreview-al``: ASReview's own simulation from the same 16 priors with that model and its
  querier (max), one label per step, run until every included record is found. It gets a
  label for every record it shows, so it is another regime: never averaged with the others.
  With ``features`` it runs on this project's embeddings (alone or beside its TF-IDF) through
  the registered feature extractor (``al-embeddings``, ``al-embeddings+tfidf``).

Each is a frozen dataclass (``helpers.methods.variant``): its fields are its settings and its key.
This module is their roster, one instance each with its defaults; the classes are in
``helpers.methods.lexical`` (TF-IDF + LR), ``helpers.methods.setfit_peer`` and
``helpers.methods.asreview_peers``.

The screened records are the training and evaluation records of the trial (the whole review
without an evaluation cap): ASReview fits its TF-IDF on exactly what it screens, and so do
the other TF-IDF methods here.
"""

from .asreview_peers import ActiveLearning, AsreviewOneShot
from .lexical import TfidfLR
from .setfit_peer import Setfit

TFIDF_LR = TfidfLR()
SETFIT = Setfit()
ASREVIEW_ONESHOT = AsreviewOneShot()
ASREVIEW_AL = ActiveLearning()
ONE_SHOT_PEERS = (TFIDF_LR, SETFIT, ASREVIEW_ONESHOT)
PEERS = ONE_SHOT_PEERS + (ASREVIEW_AL,)
