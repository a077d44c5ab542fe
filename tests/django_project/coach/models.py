"""Models shaped like Dev Coach's: the prompts table, and user data that points at prompts.
The tests create these tables with SQL (as Django's migrations would); the management commands
read the models to know what each reference's on_delete says."""

from django.db import models


class Prompt(models.Model):
    name = models.CharField(max_length=200)
    coach_state = models.CharField(max_length=100, default="")
    prompt_type = models.CharField(max_length=50)
    version = models.IntegerField(default=1)
    body = models.TextField(null=True)

    class Meta:
        db_table = "prompts"
        constraints = [
            models.UniqueConstraint(
                fields=["coach_state", "prompt_type", "version"], name="prompts_natural_key"
            )
        ]


class CoachingSession(models.Model):
    """A user's session: keeps going without its prompt when the prompt is retired."""

    prompt = models.ForeignKey(Prompt, on_delete=models.SET_NULL, null=True)


class Feedback(models.Model):
    """What a user said about a prompt's answer: the prompt must stay."""

    prompt = models.ForeignKey(Prompt, on_delete=models.PROTECT)
    text = models.TextField(default="")


class Bookmark(models.Model):
    """A user's bookmark: goes with its prompt (CASCADE), but only when told."""

    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE)
