"""Client-side streams: the console terminal, the VNC proxy. The only client-side importer of
``websockets``."""
