"""The application layer: scenario files, the stage protocol and registry, one module per stage, the session, the output writer and the command line.

Only this layer reads scenario files and writes outputs; the models in the capability subpackages
(:mod:`planning.zones`, :mod:`planning.balance`, :mod:`planning.communities`, :mod:`planning.rotation`) are pure.
"""
