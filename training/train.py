"""Train the EFC classifier on FER+ (python training/train.py --help).

Thin entry point: the code is lowres_fer_training/train.py."""

from lowres_fer_training.train import main

if __name__ == "__main__":
    main()
