"""`python -m helix ...` (also what `torchrun -m helix train ...` runs)."""

from helix.cli import main

if __name__ == "__main__":
    main()
