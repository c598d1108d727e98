"""Connector plugins: plain Python behind one small interface (no ORM, no views).

Sources live in ``sources/<type>/``, destinations in ``destinations/<type>/``; each registers
itself with ``@register_source`` / ``@register_destination`` (see ``registry``).
"""
