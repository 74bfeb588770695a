"""A small exception hierarchy whose messages tell the reader what to do next."""


class RagError(Exception):
    """Base class: anything the assistant can explain to an operator in one sentence."""


class InputError(RagError, ValueError):
    """The patient's input cannot be used as it is (empty, too long, wrong type)."""


class IndexMissingError(RagError):
    """No index has been built yet for the configured folder."""


class IndexMismatchError(RagError):
    """The index on disk was built with other settings (model, format, chunking)."""


class ModelUnavailableError(RagError):
    """A model package or file the settings point at is not installed."""


class GenerationError(RagError):
    """The language model failed or timed out while answering."""
