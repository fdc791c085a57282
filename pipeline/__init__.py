"""diaoyan: offline text mining for Chinese research interviews (调研访谈)."""

__version__ = "0.8.0"
