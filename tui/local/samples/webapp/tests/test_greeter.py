import time
import unittest

from greeter import greet, page


class GreetTest(unittest.TestCase):
    def test_greets_by_name(self) -> None:
        self.assertEqual(greet("Ada"), "Hello, Ada!")

    def test_folds_whitespace(self) -> None:
        self.assertEqual(greet("  Grace   Hopper "), "Hello, Grace Hopper!")

    def test_defaults_to_world(self) -> None:
        self.assertEqual(greet(""), "Hello, world!")

    def test_page_escapes_html(self) -> None:
        time.sleep(0.5)
        self.assertIn("&lt;b&gt;", page("<b>"))


if __name__ == "__main__":
    unittest.main()
