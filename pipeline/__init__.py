"""promise-map: map policy documents against Scotland's The Promise, item by item, with evidence."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("promise-map")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"
