"""imagessl: SimCLR and classic image pretext tasks on molssl's contrastive core."""

__version__ = "0.1.0.dev0"
