"""Training and evaluation orchestration: the Lightning module and data module (the only Lightning users), the
``train`` run behind ``train.py`` and the rollout evaluation behind ``eval.py``."""
