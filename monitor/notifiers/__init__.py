"""Notifiers: one module per receiver kind behind ``base.Notifier`` (``base.DirectNotifier``
for e-mail, which is not HTTP); see ``registry``."""
