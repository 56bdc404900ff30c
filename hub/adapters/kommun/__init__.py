"""The kommun adapter: JSON over HTTP and CSV files from kommun systems (Treserva, Procapita,
Combine …), mapped per kommun by configuration."""
