"""Write tests/data/degrade_vector.json (python training/make_test_vector.py).

Thin entry point: the code is lowres_fer_training/test_vector.py."""

from lowres_fer_training.test_vector import main

if __name__ == "__main__":
    main()
