"""The sandbox: the Pulumi program realised on a local moto server with the app running locally."""
