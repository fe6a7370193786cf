"""The recipe A/B table (python training/render_ab_table.py [training/runs]).

Thin entry point: the code is lowres_fer_training/tables/ab.py."""

from lowres_fer_training.tables.ab import main

if __name__ == "__main__":
    main()
