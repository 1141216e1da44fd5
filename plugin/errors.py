"""Exceptions shared across Relais packages."""


class RelaisError(Exception):
    """Base class for errors Relais raises on purpose."""


class ConfigError(RelaisError):
    """The environment does not describe a configuration Relais can start with."""


class PayloadError(RelaisError):
    """A webhook payload lacks what its topic must carry; retrying will not help."""


class ServiceUnavailable(RelaisError):
    """The database or Redis cannot be reached right now; the caller should retry later."""
