"""EventBridge over AWS JSON 1.1 (`X-Amz-Target: AWSEvents.<Operation>`), over `engine.eventbus`.

Served: PutRule, DescribeRule, ListRules, DeleteRule, EnableRule, DisableRule, PutTargets,
ListTargetsByRule, RemoveTargets, ListRuleNamesByTarget, PutEvents, TestEventPattern,
ListTagsForResource (a rule's tags, given with PutRule when it was created; a bus has none
here), and CreateEventBus, DescribeEventBus, ListEventBuses, DeleteEventBus for named buses.
Other operations of the model answer UnknownOperationException (the server's funnel).

AWS's rules kept here: PutRule creates or updates (a rule keeps its state when the update
names none); DeleteRule of a missing rule succeeds, of a rule with targets is a
ValidationException; RemoveTargets of ids the rule does not have succeeds; PutTargets reports
targets it cannot take in FailedEntries and stores the others.
"""

from __future__ import annotations

from typing import Any

from tui.local.api.paging import page
from tui.local.engine.eventbus import DEFAULT_BUS, EventBus, Rule, event_pattern_matches
from tui.model.errors import ResourceNotFoundException

Request = dict[str, Any]
Response = dict[str, Any]

DEFAULT_PAGE = 100


class EventsService:
    target_prefix = "AWSEvents"
    service_name = "events"

    def __init__(self, bus: EventBus) -> None:
        self.bus = bus

    def _rule_summary(self, rule: Rule) -> Response:
        summary: Response = {
            "Name": rule.name,
            "Arn": self.bus.rule_arn(rule.bus, rule.name),
            "EventPattern": rule.pattern.text,
            "State": rule.state,
            "EventBusName": rule.bus,
        }
        if rule.description is not None:
            summary["Description"] = rule.description
        if rule.role_arn is not None:
            summary["RoleArn"] = rule.role_arn
        return summary

    # Rules --------------------------------------------------------------------------------
    def put_rule(self, request: Request) -> Response:
        bus = self.bus.bus_name(request.get("EventBusName"))
        rule = self.bus.put_rule(
            request["Name"],
            bus,
            request.get("EventPattern"),
            request.get("ScheduleExpression"),
            request.get("State"),
            request.get("Description"),
            request.get("RoleArn"),
            request.get("Tags"),
        )
        return {"RuleArn": self.bus.rule_arn(bus, rule.name)}

    def describe_rule(self, request: Request) -> Response:
        bus = self.bus.bus_name(request.get("EventBusName"))
        rule = self.bus.rule(bus, request["Name"])
        return {**self._rule_summary(rule), "CreatedBy": self.bus.account}

    def list_rules(self, request: Request) -> Response:
        bus = self.bus.bus_name(request.get("EventBusName"))
        prefix = request.get("NamePrefix") or ""
        rules = self.bus.list_rules(bus, prefix)
        chunk, token = page(
            rules,
            f"rules:{bus}:{prefix}",
            request.get("NextToken"),
            request.get("Limit") or DEFAULT_PAGE,
        )
        response: Response = {"Rules": [self._rule_summary(rule) for rule in chunk]}
        if token:
            response["NextToken"] = token
        return response

    def delete_rule(self, request: Request) -> Response:
        self.bus.delete_rule(self.bus.bus_name(request.get("EventBusName")), request["Name"])
        return {}

    def enable_rule(self, request: Request) -> Response:
        bus = self.bus.bus_name(request.get("EventBusName"))
        self.bus.set_state(bus, request["Name"], "ENABLED")
        return {}

    def disable_rule(self, request: Request) -> Response:
        bus = self.bus.bus_name(request.get("EventBusName"))
        self.bus.set_state(bus, request["Name"], "DISABLED")
        return {}

    def list_tags_for_resource(self, request: Request) -> Response:
        arn = request["ResourceARN"]
        prefix = f"arn:aws:events:{self.bus.region}:{self.bus.account}:"
        kind, _, path = arn.removeprefix(prefix).partition("/")
        if arn.startswith(prefix) and kind == "rule" and path:
            bus, _, name = path.rpartition("/")
            rule = self.bus.rules.get((bus or DEFAULT_BUS, name))
            if rule is not None:
                return {"Tags": list(rule.tags)}
        elif arn.startswith(prefix) and kind == "event-bus" and path in self.bus.buses:
            return {"Tags": []}
        raise ResourceNotFoundException(f"Resource {arn} does not exist.")

    # Targets ------------------------------------------------------------------------------
    def put_targets(self, request: Request) -> Response:
        bus = self.bus.bus_name(request.get("EventBusName"))
        rule = request["Rule"]
        self.bus.rule(bus, rule)
        accepted, failed = [], []
        for target in request["Targets"]:
            self.bus.validate_target_input(target)
            reason = self.bus.check_target(target)
            if reason is None:
                accepted.append(target)
            else:
                failed.append(
                    {
                        "TargetId": target["Id"],
                        "ErrorCode": "ValidationException",
                        "ErrorMessage": reason,
                    }
                )
        if accepted:
            self.bus.put_targets(bus, rule, accepted)
        return {"FailedEntryCount": len(failed), "FailedEntries": failed}

    def list_targets_by_rule(self, request: Request) -> Response:
        bus = self.bus.bus_name(request.get("EventBusName"))
        rule = request["Rule"]
        targets = self.bus.list_targets(bus, rule)
        chunk, token = page(
            targets,
            f"targets:{bus}:{rule}",
            request.get("NextToken"),
            request.get("Limit") or DEFAULT_PAGE,
        )
        response: Response = {"Targets": chunk}
        if token:
            response["NextToken"] = token
        return response

    def remove_targets(self, request: Request) -> Response:
        bus = self.bus.bus_name(request.get("EventBusName"))
        self.bus.remove_targets(bus, request["Rule"], request["Ids"])
        return {"FailedEntryCount": 0, "FailedEntries": []}

    def list_rule_names_by_target(self, request: Request) -> Response:
        bus = self.bus.bus_name(request.get("EventBusName"))
        names = self.bus.rules_for_target(bus, request["TargetArn"])
        chunk, token = page(
            names,
            f"by-target:{bus}:{request['TargetArn']}",
            request.get("NextToken"),
            request.get("Limit") or DEFAULT_PAGE,
        )
        response: Response = {"RuleNames": chunk}
        if token:
            response["NextToken"] = token
        return response

    # Events -------------------------------------------------------------------------------
    def put_events(self, request: Request) -> Response:
        results = self.bus.put_events(request["Entries"])
        entries: list[Response] = []
        for result in results:
            if result.event_id is not None:
                entries.append({"EventId": result.event_id})
            else:
                entries.append(
                    {"ErrorCode": result.error_code, "ErrorMessage": result.error_message}
                )
        failed = sum(1 for result in results if result.event_id is None)
        return {"FailedEntryCount": failed, "Entries": entries}

    def test_event_pattern(self, request: Request) -> Response:
        return {"Result": event_pattern_matches(request["EventPattern"], request["Event"])}

    # Buses --------------------------------------------------------------------------------
    def _bus_summary(self, name: str) -> Response:
        bus = self.bus.buses[name]
        summary: Response = {
            "Name": bus.name,
            "Arn": self.bus.bus_arn(bus.name),
            "CreationTime": bus.created,
            "LastModifiedTime": bus.modified,
        }
        if bus.description is not None:
            summary["Description"] = bus.description
        return summary

    def create_event_bus(self, request: Request) -> Response:
        bus = self.bus.create_bus(request["Name"], request.get("Description"))
        response: Response = {"EventBusArn": self.bus.bus_arn(bus.name)}
        if bus.description is not None:
            response["Description"] = bus.description
        return response

    def describe_event_bus(self, request: Request) -> Response:
        return self._bus_summary(self.bus.bus_name(request.get("Name")))

    def list_event_buses(self, request: Request) -> Response:
        prefix = request.get("NamePrefix") or ""
        names = sorted(name for name in self.bus.buses if name.startswith(prefix))
        chunk, token = page(
            names, f"buses:{prefix}", request.get("NextToken"), request.get("Limit") or DEFAULT_PAGE
        )
        response: Response = {"EventBuses": [self._bus_summary(name) for name in chunk]}
        if token:
            response["NextToken"] = token
        return response

    def delete_event_bus(self, request: Request) -> Response:
        self.bus.delete_bus(request["Name"])
        return {}
