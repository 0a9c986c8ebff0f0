"""dashscope-mock: a faithful local emulator of DashScope's asynchronous image-task API."""

__version__ = "0.1.0"
