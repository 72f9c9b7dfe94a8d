"""Generic file safety every layer may use: outputs checked before the long work and written
atomically (`outputs`), and the limits a hostile file's claims are held to (`limits`)."""
