"""STEDI Human Balance Analytics: landing → trusted → curated zones as pure PySpark functions."""

__version__ = "0.1.0"
