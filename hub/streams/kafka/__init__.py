"""Apache Kafka as the backbone: the CloudEvents binding, the producer adapters write through,
the Faust worker that runs the processors, and topic management from the AsyncAPI document."""
