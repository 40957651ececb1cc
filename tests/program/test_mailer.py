"""SES: sender identity from config; configuration set requiring TLS."""

from __future__ import annotations

from components.naming import configuration_set_name
from tests.support.program_graph import Graph


def test_identity_and_configuration_set(stack_graphs: dict[str, Graph]) -> None:
    for stack, graph in stack_graphs.items():
        identity = graph.one("aws:ses/emailIdentity:EmailIdentity")
        assert identity.inputs["email"] == graph.outputs["sender_email"]
        assert graph.outputs["sender_email"].endswith("@passportphoto.example.com")
        config_set = graph.one("aws:ses/configurationSet:ConfigurationSet").inputs
        assert config_set["name"] == configuration_set_name(stack)
        assert graph.outputs["ses_configuration_set"] == configuration_set_name(stack)
        assert config_set["deliveryOptions"] == {"tlsPolicy": "Require"}
        assert config_set["reputationMetricsEnabled"] is True
        assert config_set["sendingEnabled"] is True
