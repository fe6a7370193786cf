"""Training compute spent per run (python training/compute_spent.py).

Thin entry point: the code is lowres_fer_training/tables/spent.py."""

from lowres_fer_training.tables.spent import main

if __name__ == "__main__":
    main()
