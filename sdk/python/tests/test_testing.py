"""The test host itself. Run from scripts/test.sh with the contract's
bindings on PYTHONPATH (`sdk/python/build.sh --bindings DIR`)."""

import unittest

from wit_world.imports import config, kv, log
from wit_world.imports import types as t

from switchboard_sdk.testing import NOW, TestHost, step_input


class StepInputTest(unittest.TestCase):
    def test_is_shaped_as_the_host_builds_it(self):
        given = step_input("greet", fields={"rooms": 3, "city": "Yerevan", "paid": True}, config={"a": 1}, text="hi")
        self.assertEqual([field.name for field in given.fields], ["city", "paid", "rooms"])
        self.assertEqual(given.fields[2].value, t.Value_Number(3.0))
        self.assertEqual((given.now, given.config, given.message.text), (NOW, '{"a": 1}', "hi"))
        self.assertEqual(step_input("greet").config, "")


class TestHostTest(unittest.TestCase):
    def test_fakes_the_imports_while_open_and_restores_them(self):
        with TestHost(settings={"region": "am"}, secrets={"token": "t"}) as host:
            kv.set("count", b"\x01")
            self.assertEqual(kv.get("count"), b"\x01")
            kv.delete("count")
            self.assertIsNone(kv.get("count"))
            self.assertEqual((config.get("region"), config.secret("token")), ("am", "t"))
            log.log(log.Level.INFO, "said")
        self.assertEqual(host.logs, [("info", "said")])
        with self.assertRaises(NotImplementedError):
            kv.get("count")


if __name__ == "__main__":
    unittest.main()
