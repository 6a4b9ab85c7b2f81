"""Notifiers: one module per receiver kind behind ``base.Notifier``; see ``registry``."""
