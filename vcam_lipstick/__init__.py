"""vcam-lipstick: realistic lipstick on a live webcam, published as a virtual camera."""

__version__ = "0.1.0"
