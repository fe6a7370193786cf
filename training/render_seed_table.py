"""The seed options' table (python training/render_seed_table.py [models]).

Thin entry point: the code is lowres_fer_training/tables/seed_options.py."""

from lowres_fer_training.tables.seed_options import main

if __name__ == "__main__":
    main()
