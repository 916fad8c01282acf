from . import registry  # noqa: F401  (importing the package registers its models; docs/ARCHITECTURE.md)
