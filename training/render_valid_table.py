"""Long runs compared on Valid (python training/render_valid_table.py RUN...).

Thin entry point: the code is lowres_fer_training/tables/valid.py."""

from lowres_fer_training.tables.valid import main

if __name__ == "__main__":
    main()
