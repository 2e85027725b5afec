from django.urls import path

from chat import views

urlpatterns = [
    path("", views.index, name="index"),
    path("post", views.post_message, name="post"),
    path("switchboard.js", views.bundle, name="bundle"),
]
