"""DynamoDB tables: contract schemas, on-demand, PITR, SSE, TTL, prod protection."""

from __future__ import annotations

from tests.support.program_graph import Graph

TABLE = "aws:dynamodb/table:Table"


def test_email_table_schema_ttl_and_token_index(stack_graph: Graph) -> None:
    table = stack_graph.one(TABLE, "-emails").inputs
    assert table["hashKey"] == "email"
    assert {(a["name"], a["type"]) for a in table["attributes"]} == {
        ("email", "S"),
        ("token_hash", "S"),
    }
    assert table["ttl"] == {"attributeName": "expires_at", "enabled": True}
    (index,) = table["globalSecondaryIndexes"]
    assert index["name"] == "token-hash-index" and index["projectionType"] == "ALL"
    assert index["keySchemas"] == [{"attributeName": "token_hash", "keyType": "HASH"}]


def test_analytics_table_schema(stack_graph: Graph) -> None:
    table = stack_graph.one(TABLE, "-analytics").inputs
    assert table["hashKey"] == "event_id"
    assert table["attributes"] == [{"name": "event_id", "type": "S"}]
    assert table["ttl"] == {"attributeName": "expires_at", "enabled": True}  # events expire


def test_tables_on_demand_with_pitr_and_encryption(stack_graph: Graph) -> None:
    tables = stack_graph.of_type(TABLE)
    assert len(tables) == 2
    for table in tables:
        assert table.inputs["billingMode"] == "PAY_PER_REQUEST"
        assert table.inputs["pointInTimeRecovery"] == {"enabled": True}
        assert table.inputs["serverSideEncryption"] == {"enabled": True}


def test_prod_tables_are_protected_everywhere(stack_graphs: dict[str, Graph]) -> None:
    for stack, protected in (("dev", False), ("staging", False), ("prod", True)):
        for table in stack_graphs[stack].of_type(TABLE):
            assert table.inputs["deletionProtectionEnabled"] is protected
            assert table.options["protect"] is protected
            assert table.options["retain_on_delete"] is protected


def test_table_names_are_outputs(stack_graph: Graph) -> None:
    assert stack_graph.outputs["email_table"] == stack_graph.one(TABLE, "-emails").state["name"]
    assert (
        stack_graph.outputs["analytics_table"] == stack_graph.one(TABLE, "-analytics").state["name"]
    )
