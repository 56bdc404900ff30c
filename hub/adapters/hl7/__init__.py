"""The EHR adapter: HL7 v2 ADT over MLLP (``parse``/``render`` pure, ``transport`` the I/O)."""
