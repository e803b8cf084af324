"""Target clients and the provider registry (see ``registry``).

Nothing is imported here: the config imports the registry, and a cached replay must not
load any client module it does not use.
"""
