"""The tc program type: several programs per interface and direction through a dispatcher."""
