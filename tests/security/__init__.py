"""The red-team suite: each attack of issue 11, tried through the real routes and handlers on the local world."""
