"""The local world's DynamoDB transactions (``localworld.emulator.per_item_transactions``): moto's own
transaction, backed up item by item instead of table by table, keeps what DynamoDB promises: all or nothing,
conditions checked on each item, the cancellation reasons in the order of the actions, no stream record of a
cancelled transaction. Through the tests' moto server, as every Switchboard call goes."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError

ORDERS, COUNTERS = "tx-orders", "tx-counters"  # one with a sort key, one without


@pytest.fixture
def db(moto_server):
    moto_server.reset()
    client = boto3.client("dynamodb")
    client.create_table(TableName=ORDERS, BillingMode="PAY_PER_REQUEST",
                        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                   {"AttributeName": "sk", "KeyType": "RANGE"}],
                        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                              {"AttributeName": "sk", "AttributeType": "S"}],
                        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
    client.create_table(TableName=COUNTERS, BillingMode="PAY_PER_REQUEST",
                        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])
    client.put_item(TableName=ORDERS, Item=_order("o1", "new", 1))
    client.put_item(TableName=ORDERS, Item=_order("o2", "new", 1))
    client.put_item(TableName=COUNTERS, Item={"id": {"S": "open"}, "n": {"N": "2"}, "tags": {"SS": ["a"]}})
    client.put_item(TableName=COUNTERS, Item={"id": {"S": "closed"}, "n": {"N": "5"}})
    yield client
    moto_server.reset()


def _order(sk: str, status: str, version: int) -> dict:
    return {"pk": {"S": "shop"}, "sk": {"S": sk}, "status": {"S": status}, "version": {"N": str(version)}}


def _get(client, table: str, **key: str) -> dict | None:
    return client.get_item(TableName=table, Key={k: {"S": v} for k, v in key.items()},
                           ConsistentRead=True).get("Item")


def _everything(client) -> dict:
    return {table: sorted(map(str, client.scan(TableName=table)["Items"])) for table in (ORDERS, COUNTERS)}


def _cancelled(client, actions: list[dict]) -> list[dict]:
    with pytest.raises(ClientError) as raised:
        client.transact_write_items(TransactItems=actions)
    assert raised.value.response["Error"]["Code"] == "TransactionCanceledException"
    return raised.value.response["CancellationReasons"]


def _bump(sk: str, expected_version: int) -> dict:
    return {"Update": {"TableName": ORDERS, "Key": {"pk": {"S": "shop"}, "sk": {"S": sk}},
                       "UpdateExpression": "SET #s = :s, version = version + :one",
                       "ConditionExpression": "version = :v", "ExpressionAttributeNames": {"#s": "status"},
                       "ExpressionAttributeValues": {":s": {"S": "paid"}, ":one": {"N": "1"},
                                                     ":v": {"N": str(expected_version)}}}}


def test_a_failing_condition_on_the_second_item_leaves_the_first_unwritten(db):
    before = _everything(db)
    reasons = _cancelled(db, [
        {"Put": {"TableName": COUNTERS, "Item": {"id": {"S": "fresh"}, "n": {"N": "1"}}}},
        {"Put": {"TableName": ORDERS, "Item": _order("o1", "dup", 9), "ConditionExpression": "attribute_not_exists(pk)",
                 "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}},
        {"Delete": {"TableName": ORDERS, "Key": {"pk": {"S": "shop"}, "sk": {"S": "o2"}}}},
    ])
    assert [r["Code"] for r in reasons] == ["None", "ConditionalCheckFailed", "None"]
    assert reasons[1]["Item"] == _order("o1", "new", 1)  # ALL_OLD: the item as it stood
    assert _get(db, COUNTERS, id="fresh") is None
    assert _get(db, ORDERS, pk="shop", sk="o2") == _order("o2", "new", 1)  # the action after it did not happen
    assert _everything(db) == before


def test_a_successful_transaction_writes_every_action_across_two_tables(db):
    db.transact_write_items(TransactItems=[
        {"Put": {"TableName": ORDERS, "Item": _order("o3", "new", 1),
                 "ConditionExpression": "attribute_not_exists(pk)"}},
        _bump("o1", 1),
        {"Delete": {"TableName": ORDERS, "Key": {"pk": {"S": "shop"}, "sk": {"S": "o2"}},
                    "ConditionExpression": "#s = :new", "ExpressionAttributeNames": {"#s": "status"},
                    "ExpressionAttributeValues": {":new": {"S": "new"}}}},
        {"Update": {"TableName": COUNTERS, "Key": {"id": {"S": "open"}}, "UpdateExpression": "ADD n :one, tags :t",
                    "ExpressionAttributeValues": {":one": {"N": "1"}, ":t": {"SS": ["b"]}}}},
        {"ConditionCheck": {"TableName": COUNTERS, "Key": {"id": {"S": "closed"}}, "ConditionExpression": "n = :five",
                            "ExpressionAttributeValues": {":five": {"N": "5"}}}},
    ])
    assert _get(db, ORDERS, pk="shop", sk="o3") == _order("o3", "new", 1)
    assert _get(db, ORDERS, pk="shop", sk="o1") == _order("o1", "paid", 2)
    assert _get(db, ORDERS, pk="shop", sk="o2") is None
    assert _get(db, COUNTERS, id="open") == {"id": {"S": "open"}, "n": {"N": "3"}, "tags": {"SS": ["a", "b"]}}


def test_a_failing_condition_check_undoes_put_update_and_delete_in_both_tables(db):
    before = _everything(db)
    reasons = _cancelled(db, [
        {"Put": {"TableName": ORDERS, "Item": _order("o2", "replaced", 5)}},  # over an existing item
        _bump("o1", 1),  # updates the stored item in place
        {"Put": {"TableName": ORDERS, "Item": {"pk": {"S": "other"}, "sk": {"S": "x"}}}},  # a new partition
        {"Update": {"TableName": COUNTERS, "Key": {"id": {"S": "open"}}, "UpdateExpression": "ADD n :one, tags :t",
                    "ExpressionAttributeValues": {":one": {"N": "1"}, ":t": {"SS": ["b"]}}}},
        {"Update": {"TableName": COUNTERS, "Key": {"id": {"S": "new-counter"}}, "UpdateExpression": "SET n = :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}}}},  # an update that creates the item
        {"Delete": {"TableName": COUNTERS, "Key": {"id": {"S": "absent"}}}},
        {"ConditionCheck": {"TableName": ORDERS, "Key": {"pk": {"S": "shop"}, "sk": {"S": "o9"}},
                            "ConditionExpression": "attribute_exists(pk)"}},
    ])
    assert [r["Code"] for r in reasons] == ["None"] * 6 + ["ConditionalCheckFailed"]
    assert _get(db, ORDERS, pk="shop", sk="o1") == _order("o1", "new", 1)
    assert _get(db, ORDERS, pk="shop", sk="o2") == _order("o2", "new", 1)
    assert _get(db, COUNTERS, id="open") == {"id": {"S": "open"}, "n": {"N": "2"}, "tags": {"SS": ["a"]}}
    assert db.query(TableName=ORDERS, KeyConditionExpression="pk = :p",
                    ExpressionAttributeValues={":p": {"S": "other"}})["Items"] == []
    assert _everything(db) == before


def test_every_failing_action_is_named_in_order(db):
    reasons = _cancelled(db, [
        _bump("o1", 7),  # stale version
        {"Put": {"TableName": COUNTERS, "Item": {"id": {"S": "fresh"}}}},
        {"Delete": {"TableName": ORDERS, "Key": {"pk": {"S": "shop"}, "sk": {"S": "o2"}},
                    "ConditionExpression": "attribute_not_exists(pk)"}},
    ])
    assert [r["Code"] for r in reasons] == ["ConditionalCheckFailed", "None", "ConditionalCheckFailed"]
    assert _get(db, COUNTERS, id="fresh") is None
    assert _get(db, ORDERS, pk="shop", sk="o1") == _order("o1", "new", 1)


def test_two_actions_on_one_item_are_refused_and_nothing_is_written(db):
    before = _everything(db)
    with pytest.raises(ClientError) as raised:
        db.transact_write_items(TransactItems=[
            {"Put": {"TableName": COUNTERS, "Item": {"id": {"S": "fresh"}}}},
            _bump("o1", 1),
            {"Delete": {"TableName": ORDERS, "Key": {"pk": {"S": "shop"}, "sk": {"S": "o1"}}}},
        ])
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert _everything(db) == before


def test_a_cancelled_transaction_leaves_no_stream_record(db):
    streams = boto3.client("dynamodbstreams")
    arn = db.describe_table(TableName=ORDERS)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]

    def records() -> list[str]:
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard,
                                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        return [r["eventName"] for r in streams.get_records(ShardIterator=iterator)["Records"]]

    _cancelled(db, [_bump("o1", 1), {"ConditionCheck": {
        "TableName": COUNTERS, "Key": {"id": {"S": "open"}}, "ConditionExpression": "attribute_not_exists(id)"}}])
    assert records() == ["INSERT", "INSERT"]  # the fixture's two orders only
    db.transact_write_items(TransactItems=[_bump("o1", 1)])
    assert records() == ["INSERT", "INSERT", "MODIFY"]


def test_the_backup_is_of_the_touched_items_not_the_tables(db):
    """moto's own transaction swaps a deep copy of each table back in when it cancels: here the table stays the
    same object and its other items were never copied."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    tables = dynamodb_backends[DEFAULT_ACCOUNT_ID]["eu-west-1"].tables
    orders, untouched = tables[ORDERS], tables[ORDERS].items[_key("shop")][_key("o2")]
    _cancelled(db, [_bump("o1", 1), {"ConditionCheck": {
        "TableName": COUNTERS, "Key": {"id": {"S": "open"}}, "ConditionExpression": "attribute_not_exists(id)"}}])
    assert tables[ORDERS] is orders
    assert orders.items[_key("shop")][_key("o2")] is untouched
    assert _get(db, ORDERS, pk="shop", sk="o1") == _order("o1", "new", 1)


def _key(value: str):  # type: ignore[no-untyped-def]
    from moto.dynamodb.models.dynamo_type import DynamoType

    return DynamoType({"S": value})
