"""Train the resolution recognition network (python training/train_rrn.py --help).

Thin entry point: the code is lowres_fer_training/train_rrn.py."""

from lowres_fer_training.train_rrn import main

if __name__ == "__main__":
    main()
