"""The password policy (F06): long, mixed, not a well-known password, and said plainly."""

MIN_LENGTH = 12
# Argon2 accepts any length; a cap stops megabyte "passwords" from costing CPU and memory.
MAX_LENGTH = 128

# Passwords that meet the length and character rules but top every breach list.
COMMON_PASSWORDS = frozenset(
    {
        "123456789012",
        "1234567890ab",
        "1q2w3e4r5t6y",
        "administrator1",
        "changeme1234",
        "letmein12345",
        "iloveyou1234",
        "passw0rd1234",
        "password1234",
        "password123!",
        "password12345",
        "password2024",
        "password2025",
        "password2026",
        "qwerty123456",
        "qwertyuiop12",
        "welcome12345",
        "welcome@1234",
    }
)


def password_problems(password: str, *, email: str | None = None) -> list[str]:
    """Every rule the password breaks, as sentences a user can act on."""
    problems: list[str] = []
    if len(password) < MIN_LENGTH:
        problems.append(f"Use at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        problems.append(f"Use at most {MAX_LENGTH} characters")
    if not any(char.isupper() for char in password):
        problems.append("Add an uppercase letter")
    if not any(char.isdigit() for char in password):
        problems.append("Add a digit")
    if password.lower() in COMMON_PASSWORDS:
        problems.append("This password is too common; choose one that is hard to guess")
    local_part = (email or "").partition("@")[0].lower()
    if len(local_part) >= 4 and local_part in password.lower():  # noqa: PLR2004 - short names match by chance
        problems.append("Do not use your email address in the password")
    return problems
