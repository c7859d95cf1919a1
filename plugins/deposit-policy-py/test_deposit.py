"""Unit tests for the deposit rule; run with `python3 -m unittest` in this folder."""

import unittest

from deposit import Policy, deposit_minor, message

POLICY = Policy(deposit_percent=30, from_minor=1_500_000)


class DepositTest(unittest.TestCase):
    def test_a_long_service_asks_its_share(self):
        self.assertEqual(deposit_minor(POLICY, 2_000_000), 600_000)

    def test_a_short_service_asks_nothing(self):
        self.assertEqual(deposit_minor(POLICY, 1_499_999), 0)

    def test_the_message_speaks_the_customers_language(self):
        self.assertEqual(
            message("hy-AM", 600_000, "AMD"),
            "Ամրագրումը պահելու համար անհրաժեշտ է կանխավճար՝ 6 000 AMD, մնացածը վճարվում է սրահում։",
        )


if __name__ == "__main__":
    unittest.main()
