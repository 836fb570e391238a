"""The CarboniX oracle: signed sensor readings in, graded readings and data-log commits out."""
