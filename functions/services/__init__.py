"""One service per concept: domain rules over the ports, nothing else."""
